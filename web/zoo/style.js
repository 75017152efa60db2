// The sidebar's stylesheet, injected once. Colours come from ComfyUI's theme variables.
const CSS = `
.pz-root { display: flex; flex-direction: column; gap: 8px; height: 100%; padding: 8px; box-sizing: border-box;
  color: var(--fg-color); font-size: 13px; overflow: hidden; position: relative; overflow-wrap: anywhere;
  word-break: break-word; }
.pz-header { display: flex; flex-direction: column; gap: 6px; }
.pz-title { font-weight: 600; font-size: 15px; letter-spacing: .02em; }
.pz-tabs { display: flex; gap: 4px; }
.pz-tab { flex: 1; padding: 5px 6px; border: 1px solid var(--border-color); border-radius: 6px; cursor: pointer;
  background: var(--comfy-input-bg); color: var(--fg-color); }
.pz-tab[aria-selected="true"] { background: var(--p-primary-color, #3b82f6); color: var(--p-primary-contrast-color, #fff);
  border-color: transparent; }
.pz-panel { display: flex; flex-direction: column; gap: 8px; min-height: 0; flex: 1; overflow-y: auto; }
.pz-panel[hidden], .pz-search-view[hidden], .pz-detail-view[hidden], .pz-more[hidden] { display: none; }
.pz-search-view { display: flex; flex-direction: column; gap: 8px; min-height: 0; }
.pz-row { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.pz-select, .pz-input { background: var(--comfy-input-bg); color: var(--input-text, var(--fg-color));
  border: 1px solid var(--border-color); border-radius: 6px; padding: 5px 6px; font: inherit; min-width: 0; }
.pz-select { flex: 1 1 40%; }
.pz-index-select { width: 100%; }
.pz-query, .pz-instruction, .pz-build-catalogs { width: 100%; box-sizing: border-box; }
.pz-instruction { background: var(--comfy-input-bg); color: var(--fg-color); border: 1px solid var(--border-color);
  border-radius: 6px; padding: 6px; font: inherit; resize: vertical; }
.pz-status { color: var(--descrip-text, #999); font-size: 12px; min-height: 1em; }
.pz-error { color: var(--error-text, #f66); white-space: pre-wrap; overflow-wrap: anywhere; }
.pz-results { display: flex; flex-direction: column; gap: 6px; }
.pz-card { display: flex; gap: 8px; padding: 6px; border: 1px solid var(--border-color); border-radius: 8px;
  background: var(--comfy-menu-bg); cursor: pointer; }
.pz-card:hover, .pz-card:focus { border-color: var(--p-primary-color, #3b82f6); outline: none; }
.pz-thumb { width: 72px; height: 72px; flex: 0 0 72px; border-radius: 6px; object-fit: cover;
  background: var(--comfy-input-bg); }
.pz-thumb-empty { display: flex; align-items: center; justify-content: center; font-size: 10px;
  color: var(--descrip-text, #999); }
.pz-card-body { display: flex; flex-direction: column; gap: 3px; min-width: 0; flex: 1; }
.pz-name { font-weight: 600; overflow-wrap: anywhere; }
.pz-version { font-weight: 400; color: var(--descrip-text, #999); margin-left: 6px; font-size: 12px; }
.pz-meta { color: var(--descrip-text, #999); font-size: 12px; overflow-wrap: anywhere; }
.pz-triggers { display: flex; flex-wrap: wrap; gap: 4px; }
.pz-chip { display: inline-flex; align-items: center; gap: 2px; padding: 1px 2px 1px 6px; border-radius: 10px;
  background: var(--comfy-input-bg); border: 1px solid var(--border-color); font-size: 12px; max-width: 100%; }
.pz-chip-text { overflow-wrap: anywhere; }
.pz-copy { border: none; background: transparent; color: var(--descrip-text, #999); cursor: pointer; padding: 0 4px;
  font-size: 12px; }
.pz-copy:hover, .pz-copied { color: var(--fg-color); }
.pz-channels { display: flex; flex-wrap: wrap; gap: 4px 8px; font-size: 11px; color: var(--descrip-text, #999); }
.pz-channel-name { text-transform: uppercase; letter-spacing: .03em; font-size: 10px; }
.pz-channel { font-variant-numeric: tabular-nums; }
.pz-actions { display: flex; gap: 6px; flex-wrap: wrap; margin-top: 2px; }
.pz-button { border: 1px solid var(--border-color); background: var(--comfy-input-bg); color: var(--fg-color);
  border-radius: 6px; padding: 4px 10px; cursor: pointer; font: inherit; font-size: 12px; }
.pz-button:disabled { opacity: .5; cursor: default; }
.pz-primary { background: var(--p-primary-color, #3b82f6); color: var(--p-primary-contrast-color, #fff);
  border-color: transparent; }
.pz-detail { display: flex; flex-direction: column; gap: 8px; min-width: 0; }
.pz-detail > *, .pz-detail-view, .pz-section { min-width: 0; max-width: 100%; }
.pz-detail-head { display: flex; justify-content: space-between; }
.pz-detail-name { font-size: 15px; font-weight: 600; overflow-wrap: anywhere; }
.pz-detail-previews { display: flex; gap: 6px; overflow-x: auto; }
.pz-detail-preview { width: 120px; height: 120px; object-fit: cover; border-radius: 6px; }
.pz-section { display: flex; flex-direction: column; gap: 4px; }
.pz-section-title { font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: var(--descrip-text, #999); }
.pz-description, .pz-prompt-text { white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.4; }
.pz-prompt { display: flex; gap: 4px; align-items: flex-start; font-size: 12px; overflow-wrap: anywhere;
  padding: 4px 6px; border-radius: 6px; background: var(--comfy-input-bg); }
.pz-mono { font-family: ui-monospace, monospace; font-size: 11px; overflow-wrap: anywhere; white-space: pre-wrap; }
.pz-siblings { display: flex; flex-wrap: wrap; gap: 4px; }
.pz-sibling { border: 1px solid var(--border-color); background: var(--comfy-input-bg); color: var(--fg-color);
  border-radius: 10px; padding: 2px 8px; cursor: pointer; font-size: 12px; max-width: 100%; overflow-wrap: anywhere; }
.pz-plan, .pz-plan-body { display: flex; flex-direction: column; gap: 8px; }
.pz-plan-choice { padding: 6px; border: 1px solid var(--border-color); border-radius: 8px; background: var(--comfy-menu-bg); }
.pz-plan-slot { font-size: 10px; text-transform: uppercase; letter-spacing: .05em; color: var(--descrip-text, #999); }
.pz-why { font-size: 11px; color: var(--descrip-text, #999); overflow-wrap: anywhere; }
.pz-note { font-size: 12px; color: var(--descrip-text, #999); font-style: italic; }
.pz-check { display: inline-flex; align-items: center; gap: 4px; font-size: 12px; }
.pz-index { padding: 6px; border: 1px solid var(--border-color); border-radius: 8px; background: var(--comfy-menu-bg); }
.pz-skip-report summary { cursor: pointer; font-size: 12px; color: var(--descrip-text, #999); }
.pz-progress { height: 8px; border-radius: 4px; background: var(--comfy-input-bg); overflow: hidden; }
.pz-progress-bar { height: 100%; width: 0; background: var(--p-primary-color, #3b82f6); transition: width .15s; }
.pz-progress[data-state="failed"] .pz-progress-bar, .pz-progress[data-state="cancelled"] .pz-progress-bar {
  background: var(--error-text, #f66); }
.pz-build-state { font-size: 12px; overflow-wrap: anywhere; }
.pz-toast { position: absolute; left: 8px; right: 8px; bottom: 8px; padding: 6px 10px; border-radius: 6px;
  background: var(--comfy-menu-bg); border: 1px solid var(--border-color); opacity: 0; transition: opacity .2s;
  pointer-events: none; font-size: 12px; }
.pz-toast-on { opacity: 1; }
.pz-offscreen { position: fixed; left: -9999px; top: 0; }
`;

export function injectStyle() {
  if (document.getElementById("polaris-zoo-style")) return;
  const style = document.createElement("style");
  style.id = "polaris-zoo-style";
  style.textContent = CSS;
  document.head.append(style);
}
