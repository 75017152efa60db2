// Shows what each Polaris node did, on the node itself: the parsed intent, index counts, ranked tables
// with per-channel scores, the plan and what was loaded. The server sends it as the node's `text` UI output.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { ComfyWidgets } from "../../scripts/widgets.js";

const OUTPUT_WIDGET = "polaris_output";
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
      font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
      font-size: 11px;
      line-height: 1.35;
      white-space: pre;
      overflow: auto;
      opacity: 0.95;
    }`;
  document.head.appendChild(style);
}

// The read-only text box every Polaris node carries. It is never saved with the workflow.
function outputWidget(node) {
  let widget = node.widgets?.find((w) => w.name === OUTPUT_WIDGET);
  if (widget) return widget;
  widget = ComfyWidgets.STRING(node, OUTPUT_WIDGET, ["STRING", { multiline: true }], app).widget;
  widget.serialize = false;
  widget.options = { ...(widget.options ?? {}), read_only: true, serialize: false };
  if (widget.element) {
    widget.element.readOnly = true;
    widget.element.placeholder = PLACEHOLDER;
    widget.element.classList.add("polaris-output");
    widget.element.setAttribute("data-polaris-node", node.comfyClass ?? node.type ?? "");
  }
  // Ask for room for every line (up to a cap) before preview images share the rest of the node.
  widget.computeLayoutSize = () => {
    const lines = Math.max(MIN_LINES, String(widget.value ?? "").split("\n").length);
    return { minHeight: Math.min(MAX_HEIGHT, lines * LINE_HEIGHT + 14), minWidth: 0, maxHeight: 1e6, maxWidth: 1e6 };
  };
  return widget;
}

function showText(node, text) {
  const widget = outputWidget(node);
  widget.value = Array.isArray(text) ? text.join("\n") : String(text ?? "");
  if (widget.element) widget.element.value = widget.value;
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
        if (!String(widget.value ?? "").trim()) widget.element && (widget.element.placeholder = REUSED);
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
