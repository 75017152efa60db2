// Shows what each Polaris node did, on the node itself: the parsed intent, index counts, ranked tables
// with per-channel scores, the plan and what was loaded. The server sends it as the node's `text` UI output.
// Public extension APIs only (app.registerExtension, node.addDOMWidget, onExecuted), so the same code runs on
// ComfyUI's pinned frontend and the newest one, with the classic canvas renderer and the Vue one (Nodes 2.0).
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const OUTPUT_WIDGET = "polaris_output";
const OUTPUT_TYPE = "polaris_output";  // a widget type of our own: the Vue renderer mounts our element as is
const PLACEHOLDER = "Run the workflow to see what this node chose.";
const REUSED = "Nothing changed since this node last ran, so ComfyUI reused its result without running it, " +
  "and has nothing new to show. Change one of its inputs, or free the node cache, to see its output again.";
const LINE_HEIGHT = 15;   // px per line of the 11px monospace text
const MIN_LINES = 4;
const MAX_HEIGHT = 420;   // longer text scrolls inside the box

function injectStyle() {
  if (document.getElementById("polaris-node-style")) return;
  const style = document.createElement("style");
  style.id = "polaris-node-style";
  style.textContent = `
    textarea.polaris-output {
      box-sizing: border-box;
      width: 100%;
      resize: none;
      border: none;
      padding: 2px 4px;
      background-color: var(--comfy-input-bg, #222);
      color: var(--input-text, #ddd);
      font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
      font-size: 11px;
      line-height: 1.35;
      white-space: pre;
      overflow: auto;
      opacity: 0.95;
    }
    /* The Vue renderer lays nodes out with CSS. The box asks for the height it asks of the canvas, and a
       Polaris node keeps the height the graph gives it (as on the canvas) with its previews in what is left:
       otherwise a preview at full width grows the node out of its group. A collapsed node holds no box. */
    .lg-node textarea.polaris-output {
      height: var(--polaris-output-height, ${MIN_LINES * LINE_HEIGHT + 14}px);
      min-height: ${MIN_LINES * LINE_HEIGHT + 14}px;
      flex: 0 0 auto;
      border-radius: 4px;
    }
    .lg-node:has(textarea.polaris-output) { height: var(--node-height); }
    .lg-node:has(textarea.polaris-output) div:has(img), .lg-node:has(textarea.polaris-output) img {
      min-height: 0;
    }`;
  document.head.appendChild(style);
}

function textHeight(text) {
  const lines = Math.max(MIN_LINES, String(text ?? "").split("\n").length);
  return Math.min(MAX_HEIGHT, lines * LINE_HEIGHT + 14);
}

// The read-only text box every Polaris node carries. It is never saved with the workflow.
function outputWidget(node) {
  const existing = node.widgets?.find((w) => w.name === OUTPUT_WIDGET);
  if (existing) return existing;
  const box = document.createElement("textarea");
  box.readOnly = true;
  box.spellcheck = false;
  box.placeholder = PLACEHOLDER;
  box.className = "polaris-output";
  box.dataset.polarisNode = node.comfyClass ?? node.type ?? "";
  // Ask for room for every line (up to a cap) before preview images share the rest of the node.
  const widget = node.addDOMWidget(OUTPUT_WIDGET, OUTPUT_TYPE, box, {
    getValue: () => box.value,
    setValue: (value) => { box.value = String(value ?? ""); },
    getMinHeight: () => textHeight(box.value),
    getMaxHeight: () => 1e6,
    serialize: false,
  });
  widget.serialize = false;
  return widget;
}

function showText(node, text) {
  const widget = outputWidget(node);
  widget.value = Array.isArray(text) ? text.join("\n") : String(text ?? "");
  widget.element.dataset.polarisNodeId = String(node.id);
  widget.element.style.setProperty("--polaris-output-height", `${textHeight(widget.value)}px`);
  node.setDirtyCanvas?.(true, true);
}

app.registerExtension({
  name: "Polaris.NodeOutput",
  setup() {
    injectStyle();
    // ComfyUI does not send a cached node's output again: say so instead of leaving an empty box.
    api.addEventListener("execution_cached", ({ detail }) => {
      for (const id of detail?.nodes ?? []) {
        const node = app.graph?.getNodeById?.(id);
        if (!node?.comfyClass?.startsWith?.("Polaris")) continue;
        const widget = outputWidget(node);
        if (!String(widget.value ?? "").trim()) widget.element.placeholder = REUSED;
      }
    });
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!nodeData?.name?.startsWith("Polaris")) return;

    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      outputWidget(this); // made up front, so a workflow's layout already leaves room for it
      return result;
    };

    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      if (message?.text) showText(this, message.text);
    };
  },
});
