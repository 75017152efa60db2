// The Polaris Zoo sidebar tab: search the model zoo as you type, see why each model matched, put it in the
// graph; plan from an instruction; manage indexes. Plain JavaScript, no build step, no network beyond ComfyUI.
import { app } from "../../../scripts/app.js";
import { h, clear, debounce } from "./dom.js";
import { zooApi } from "./api.js";
import { resultCard, showDetail } from "./cards.js";
import { installCanvasDrop } from "./graph.js";
import { instructionPanel } from "./instruct.js";
import { indexesPanel } from "./indexes.js";
import { injectStyle } from "./style.js";

const PAGE = 20;
const TYPING_PAUSE_MS = 60;
const KINDS = [["lora", "LoRA"], ["checkpoint", "Checkpoint"], ["embedding", "Embedding"]];

// What the browser tier reads to time "last keystroke → first cards painted".
window.__polarisZoo = { paints: [] };

function renderSidebar(el) {
  injectStyle();
  el.style.height = "100%";  // the panels scroll inside the sidebar, the header stays put
  const state = { index: "demo", kind: "lora", family: "", query: "", page: 0, indexes: [], seq: 0, abort: null };
  const toast = h("div", { class: "pz-toast", role: "status" });
  let toastTimer = 0;
  const notify = (message) => {
    toast.textContent = message;
    toast.classList.add("pz-toast-on");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => toast.classList.remove("pz-toast-on"), 1800);
  };

  const indexSelect = h("select", { class: "pz-select pz-index-select", title: "Index to search" });
  const kindSelect = h("select", { class: "pz-select pz-kind-select", title: "Kind of model" },
    KINDS.map(([value, label]) => h("option", { value, text: label })));
  const familySelect = h("select", { class: "pz-select pz-family-select", title: "Base model family" });
  const input = h("input", { class: "pz-input pz-query", type: "search", maxlength: "500", autocomplete: "off",
    placeholder: "Search by prompt, style, trigger word…", spellcheck: "false" });
  const status = h("div", { class: "pz-status" });
  const results = h("div", { class: "pz-results" });
  const more = h("button", { class: "pz-button pz-more", hidden: true }, "More");
  const detail = h("div", { class: "pz-detail-view", hidden: true });
  const searchView = h("div", { class: "pz-search-view" },
    indexSelect, h("div", { class: "pz-row" }, kindSelect, familySelect), input, status, results, more);
  const searchPanel = h("div", { class: "pz-panel pz-search-panel" }, searchView, detail);

  const { panel: managePanel, refresh: refreshIndexes } = indexesPanel({ onIndexesChanged, notify });
  const instructPanel = instructionPanel(() => state.index, notify);
  const panels = { search: searchPanel, instruct: instructPanel, indexes: managePanel };
  const tabs = h("div", { class: "pz-tabs", role: "tablist" }, Object.entries(
    { search: "Search", instruct: "Instruction", indexes: "Indexes" }).map(([key, label]) =>
    h("button", { class: "pz-tab", role: "tab", dataset: { tab: key }, onclick: () => showTab(key) }, label)));

  function showTab(key) {
    for (const [name, panel] of Object.entries(panels)) panel.hidden = name !== key;
    for (const button of tabs.children) button.setAttribute("aria-selected", String(button.dataset.tab === key));
    if (key === "indexes") refreshIndexes();
  }

  // Families of the current index and kind arrive with each search answer.
  function fillFamilies(byFamily = {}) {
    const families = Object.entries(byFamily).sort((a, b) => b[1] - a[1]);
    if (state.family && !families.some(([f]) => f === state.family)) state.family = "";
    clear(familySelect).append(h("option", { value: "", text: "All families" }),
      ...families.map(([family, count]) => h("option", { value: family, text: `${family} (${count})` })));
    familySelect.value = state.family;
  }

  function onIndexesChanged(indexes) {
    state.indexes = indexes.filter((i) => !i.error);
    if (!state.indexes.some((i) => i.name === state.index) && state.indexes.length) state.index = state.indexes[0].name;
    clear(indexSelect).append(...state.indexes.map((i) => h("option", { value: i.name, text: `${i.name} (${i.entries})` })));
    indexSelect.value = state.index;
  }

  async function runSearch(append = false) {
    const seq = ++state.seq;
    state.abort?.abort();
    const controller = new AbortController();
    state.abort = controller;
    const query = input.value.trim();
    const page = append ? state.page + 1 : 0;
    status.textContent = "Searching…";
    const requestedAt = performance.now();
    let data;
    try {
      data = await zooApi.search({ index: state.index, query, kind: state.kind, family: state.family, k: PAGE, page },
        controller.signal);
    } catch (error) {
      if (error.name === "AbortError" || seq !== state.seq) return;
      status.textContent = error.message;
      status.classList.add("pz-error");
      return;
    }
    if (seq !== state.seq) return;  // a newer keystroke already asked again
    const respondedAt = performance.now();
    const familyKey = `${state.index}/${state.kind}`;
    if (state.familyKey !== familyKey) {
      state.familyKey = familyKey;
      fillFamilies(data.families);
    }
    status.classList.remove("pz-error");
    state.page = page;
    const cards = data.results.map((model) => resultCard(state.index, model, { onOpen: openDetail, notify }));
    if (append) results.append(...cards);
    else results.replaceChildren(...cards);
    results.dataset.query = query;
    more.hidden = !data.more;
    const shown = results.children.length;
    status.textContent = data.message || (shown ? `${shown}${data.more ? "+" : ""} ${query ? "matches" : "models"}` +
      `${query ? ` · ${data.took_ms} ms` : ""}` : "No matches");
    const renderedAt = performance.now();
    requestAnimationFrame(() => requestAnimationFrame(() => {
      if (window.__polarisZoo.paints.length > 200) window.__polarisZoo.paints.shift();
      window.__polarisZoo.paints.push({ query, requestedAt, respondedAt, renderedAt, paintedAt: performance.now(),
        count: shown });
    }));
  }
  const searchSoon = debounce(() => runSearch(false), TYPING_PAUSE_MS);

  function openDetail(model) {
    searchView.hidden = true;
    detail.hidden = false;
    showDetail(detail, state.index, model, {
      onBack: () => { detail.hidden = true; searchView.hidden = false; input.focus(); },
      onOpen: openDetail, notify,
    });
  }

  input.addEventListener("input", searchSoon);
  indexSelect.addEventListener("change", () => { state.index = indexSelect.value; state.family = ""; runSearch(); });
  kindSelect.addEventListener("change", () => { state.kind = kindSelect.value; state.family = ""; runSearch(); });
  familySelect.addEventListener("change", () => { state.family = familySelect.value; runSearch(); });
  more.addEventListener("click", () => runSearch(true));

  clear(el).append(h("div", { class: "pz-root" },
    h("div", { class: "pz-header" }, h("span", { class: "pz-title", text: "Polaris Zoo" }), tabs),
    searchPanel, instructPanel, managePanel, toast));
  showTab("search");
  refreshIndexes().then(() => runSearch());
  input.focus();
}

app.registerExtension({
  name: "Polaris.ZooSidebar",
  async setup() {
    installCanvasDrop();
    // `extensionManager.sidebarTab` is the current API; the top-level registerSidebarTab is its deprecated alias.
    const sidebar = app.extensionManager.sidebarTab ?? app.extensionManager;
    sidebar.registerSidebarTab({
      id: "polaris-zoo",
      icon: "pi pi-star",
      title: "Polaris Zoo",
      tooltip: "Polaris Zoo: search your models",
      type: "custom",
      render: renderSidebar,
    });
  },
});
