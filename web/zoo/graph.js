// Putting a model from the zoo into the graph: a LoraLoader or CheckpointLoaderSimple with the file selected,
// next to the selected node or in the middle of the view; or where a card is dropped on the canvas.
import { app } from "../../../scripts/app.js";

export const DRAG_TYPE = "application/x-polaris-zoo-model";

const LOADERS = {
  lora: { type: "LoraLoader", widget: "lora_name" },
  checkpoint: { type: "CheckpointLoaderSimple", widget: "ckpt_name" },
};

/** Whether a card can become a loader node: a local LoRA or checkpoint file. */
export function canAddToGraph(model) {
  return Boolean(LOADERS[model.kind] && model.file_name);
}

function liteGraph() {
  return window.LiteGraph ?? window.comfyAPI?.litegraph?.LiteGraph;
}

function positionNearSelection() {
  const canvas = app.canvas;
  const selected = Object.values(canvas?.selected_nodes ?? {});
  if (selected.length) {
    const node = selected[selected.length - 1];
    return [node.pos[0] + node.size[0] + 40, node.pos[1]];
  }
  const [x, y, w, h] = canvas.ds.visible_area;
  return [x + w / 2 - 150, y + h / 2 - 60];
}

/** Add a loader node for `model` ({kind, file_name, name}); returns the node. `pos` is in canvas units. */
export function addModelNode(model, pos = null) {
  const loader = LOADERS[model.kind];
  if (!loader || !model.file_name) {
    throw new Error("Only local LoRA and checkpoint files can be added to the graph.");
  }
  const node = liteGraph().createNode(loader.type);
  if (!node) throw new Error(`This ComfyUI has no ${loader.type} node.`);
  const widget = node.widgets?.find((w) => w.name === loader.widget);
  if (widget) {
    widget.value = model.file_name;
    widget.callback?.(model.file_name);
  }
  node.pos = pos ?? positionNearSelection();
  app.graph.add(node);
  app.canvas.selectNode?.(node);
  app.graph.setDirtyCanvas(true, true);
  return node;
}

/** Accept cards dropped on the canvas (capture phase, so the frontend's file-drop handler never sees them). */
export function installCanvasDrop() {
  const isOurs = (event) => event.dataTransfer?.types?.includes(DRAG_TYPE);
  const onCanvas = (event) => event.target instanceof HTMLCanvasElement && event.target === app.canvas?.canvas;
  document.addEventListener("dragover", (event) => {
    if (isOurs(event) && onCanvas(event)) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    }
  }, true);
  document.addEventListener("drop", (event) => {
    if (!isOurs(event) || !onCanvas(event)) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    let model;
    try {
      model = JSON.parse(event.dataTransfer.getData(DRAG_TYPE));
    } catch (_) {
      return;
    }
    const pos = app.canvas.convertEventToCanvasOffset(event);
    try {
      addModelNode(model, pos);
    } catch (error) {
      console.warn("Polaris Zoo:", error.message);
    }
  }, true);
}
