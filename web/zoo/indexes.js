// Index management: the list of indexes, build or update with live progress over the websocket, cancel,
// and the skip report of the last scan.
import { h, clear } from "./dom.js";
import { zooApi } from "./api.js";

// The sidebar is rendered again each time its tab opens: progress goes to the panel shown last.
let showProgress = null;
let listening = false;

export function indexesPanel({ onIndexesChanged, notify }) {
  const list = h("div", { class: "pz-index-list" });
  const name = h("input", { class: "pz-input pz-build-name", value: "my-zoo", maxlength: "80",
    title: "Folder name under models/polaris/indexes; an existing index is updated" });
  const checkpoints = h("input", { type: "checkbox", checked: true, class: "pz-build-checkpoints" });
  const loras = h("input", { type: "checkbox", checked: true, class: "pz-build-loras" });
  // Off by default: a build whose folders failed to read must not wipe most of a good index.
  const allowRemoving = h("input", { type: "checkbox", class: "pz-build-allow-removing" });
  const catalogs = h("textarea", { class: "pz-input pz-build-catalogs", rows: "2",
    placeholder: "Civitai catalog files in ComfyUI's input folder or models/polaris/catalogs, one per line" });
  const milvus = h("input", { class: "pz-input pz-build-milvus", value: "", maxlength: "500",
    placeholder: "Milvus URI (optional, for a team): http://host:19530",
    title: "Keep a new index's vectors in Milvus: a server URI, or a Milvus Lite file (zoo.db). Empty: in the index folder" });
  const build = h("button", { class: "pz-button pz-primary pz-build" }, "Build / update");
  const cancel = h("button", { class: "pz-button pz-cancel", disabled: true }, "Cancel");
  const bar = h("div", { class: "pz-progress-bar" });
  const progress = h("div", { class: "pz-progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" }, bar);
  const state = h("div", { class: "pz-build-state", text: "" });
  const summary = h("div", { class: "pz-build-summary pz-mono", text: "" });

  function showStatus(status) {
    const running = status.state === "running";
    const percent = status.total ? Math.round((100 * status.step) / status.total) : (running ? 0 : 100);
    bar.style.width = `${status.state === "idle" ? 0 : percent}%`;
    progress.setAttribute("aria-valuenow", String(percent));
    progress.dataset.state = status.state;
    state.dataset.state = status.state;
    state.textContent = status.state === "idle" ? "" :
      `${status.index}: ${status.state}${running ? ` ${percent}%` : ""}${status.message ? ` — ${status.message}` : ""}`;
    summary.textContent = status.summary || "";
    build.disabled = running;
    cancel.disabled = !running;
  }

  async function refresh() {
    try {
      const data = await zooApi.indexes();
      clear(list).append(...data.indexes.map((info) => h("div", { class: "pz-index", dataset: { name: info.name } },
        h("div", { class: "pz-name", text: info.name === "demo" ? "demo (shipped demo zoo)" : info.name }),
        info.error ? h("div", { class: "pz-error", text: info.error }) :
          h("div", { class: "pz-meta", text: `${info.entries} entries: ` +
            Object.entries(info.counts).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(", ") }),
        info.last_build?.summary ? h("details", { class: "pz-skip-report" },
          h("summary", { text: "Last build report" }),
          h("div", { class: "pz-mono", text: info.last_build.summary })) : null)));
      showStatus(data.build);
      onIndexesChanged(data.indexes);
    } catch (error) {
      clear(list).append(h("div", { class: "pz-error", text: error.message }));
    }
  }

  build.addEventListener("click", async () => {
    try {
      showStatus(await zooApi.build({ name: name.value.trim(), scan_checkpoints: checkpoints.checked,
        scan_loras: loras.checked, catalogs: catalogs.value, allow_removing_entries: allowRemoving.checked,
        milvus_uri: milvus.value.trim() }));
    } catch (error) {
      state.textContent = error.message;
      state.dataset.state = "failed";
    }
  });
  cancel.addEventListener("click", async () => showStatus(await zooApi.cancel()));
  showProgress = (status) => {
    showStatus(status);
    if (status.state !== "running") {
      notify(`Index ${status.index}: ${status.state}`);
      refresh();
    }
  };
  if (!listening) {
    listening = true;
    zooApi.onProgress((status) => showProgress?.(status));
  }

  const panel = h("div", { class: "pz-panel pz-indexes-panel" },
    h("div", { class: "pz-section-title", text: "Indexes" }), list,
    h("div", { class: "pz-section-title", text: "Build or update an index" }),
    h("div", { class: "pz-row" }, h("label", { text: "Name " }), name),
    h("div", { class: "pz-row" }, h("label", { class: "pz-check" }, checkpoints, " models/checkpoints"),
      h("label", { class: "pz-check" }, loras, " models/loras")),
    catalogs, milvus,
    h("div", { class: "pz-row" }, h("label", { class: "pz-check",
      title: "Let this build drop more than half of the index's entries (models deleted, or a folder unticked, " +
        "on purpose). Off, such a build stops and keeps the index as it was." }, allowRemoving,
      " Allow removing entries")),
    h("div", { class: "pz-row" }, build, cancel),
    progress, state, summary);
  return { panel, refresh };
}
