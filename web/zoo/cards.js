// Result cards and the detail view. Every metadata string goes through textContent (dom.js `h`).
import { h, clear, copyText, formatScore } from "./dom.js";
import { zooApi } from "./api.js";
import { addModelNode, canAddToGraph, DRAG_TYPE } from "./graph.js";

const KIND_LABELS = { lora: "LoRA", checkpoint: "Checkpoint", embedding: "Embedding" };

// Previews load only when their card scrolls into the sidebar's view.
const previewObserver = new IntersectionObserver((items) => {
  for (const item of items) {
    if (!item.isIntersecting) continue;
    const img = item.target;
    previewObserver.unobserve(img);
    img.src = img.dataset.src;
  }
}, { rootMargin: "200px" });

function preview(indexName, model) {
  if (!model.previews) return h("div", { class: "pz-thumb pz-thumb-empty", text: KIND_LABELS[model.kind] ?? "" });
  const img = h("img", {
    class: "pz-thumb", alt: "", loading: "lazy", decoding: "async", draggable: "false",
    dataset: { src: zooApi.previewUrl(indexName, model.id, 0) },
  });
  img.addEventListener("error", () => img.replaceWith(h("div", { class: "pz-thumb pz-thumb-empty", text: "" })));
  previewObserver.observe(img);
  return img;
}

export function triggerChips(triggers, notify) {
  return h("div", { class: "pz-triggers" }, triggers.map((word) =>
    h("span", { class: "pz-chip" },
      h("span", { class: "pz-chip-text", text: word }),
      h("button", {
        class: "pz-copy", title: "Copy trigger word", "aria-label": "Copy trigger word",
        onclick: async (event) => {
          event.stopPropagation();
          const ok = await copyText(word);
          notify?.(ok ? `Copied “${word}”` : "Copy failed");
          event.currentTarget.classList.add("pz-copied");
        },
      }, h("i", { class: "pi pi-copy" })))));
}

function channelLine(channels) {
  const names = Object.keys(channels ?? {});
  if (!names.length) return null;
  return h("div", { class: "pz-channels", title: "Score of each retrieval channel that found this model" },
    names.map((name) => h("span", { class: "pz-channel", dataset: { channel: name } },
      h("span", { class: "pz-channel-name", text: name }), " ", formatScore(channels[name]))));
}

function addButton(model, notify) {
  if (model.kind === "embedding") {
    const token = `embedding:${(model.file_name || model.name).replace(/\.(safetensors|pt|bin)$/i, "")}`;
    return h("button", {
      class: "pz-button", title: "Copy the embedding token for a prompt",
      onclick: async (e) => { e.stopPropagation(); notify?.((await copyText(token)) ? `Copied ${token}` : "Copy failed"); },
    }, "Copy token");
  }
  const ok = canAddToGraph(model);
  return h("button", {
    class: "pz-button pz-add", disabled: !ok,
    title: ok ? "Insert a loader node with this file" : "Catalog entry without a local file: download it first",
    onclick: (e) => {
      e.stopPropagation();
      try {
        addModelNode(model);
        notify?.(`Added ${model.kind === "lora" ? "LoraLoader" : "CheckpointLoaderSimple"}`);
      } catch (error) {
        notify?.(error.message);
      }
    },
  }, "Add to graph");
}

/** A result card; `onOpen(model)` shows its details. */
export function resultCard(indexName, model, { onOpen, notify }) {
  const meta = [model.author ? `by ${model.author}` : null, model.family, KIND_LABELS[model.kind]]
    .filter(Boolean).join(" · ");
  const card = h("div", {
    class: "pz-card", tabindex: "0", draggable: canAddToGraph(model) ? "true" : "false",
    dataset: { id: model.id, kind: model.kind, family: model.family },
    onclick: () => onOpen(model),
    onkeydown: (e) => { if (e.key === "Enter") onOpen(model); },
  },
  preview(indexName, model),
  h("div", { class: "pz-card-body" },
    h("div", { class: "pz-name", title: model.name },
      h("span", { class: "pz-name-text", text: model.name }),
      model.version ? h("span", { class: "pz-version", text: model.version }) : null),
    h("div", { class: "pz-meta", text: meta }),
    model.triggers?.length ? triggerChips(model.triggers, notify) : null,
    channelLine(model.channels),
    h("div", { class: "pz-actions" }, addButton(model, notify))));
  card.addEventListener("dragstart", (event) => {
    if (!canAddToGraph(model)) return event.preventDefault();
    event.dataTransfer.setData(DRAG_TYPE, JSON.stringify({ kind: model.kind, file_name: model.file_name,
      name: model.name }));
    event.dataTransfer.setData("text/plain", model.file_name);
    event.dataTransfer.effectAllowed = "copy";
  });
  return card;
}

function section(title, ...children) {
  return h("div", { class: "pz-section" }, h("div", { class: "pz-section-title", text: title }), ...children);
}

/** The detail view of one entry, rendered into `root`. */
export async function showDetail(root, indexName, model, { onBack, onOpen, notify }) {
  clear(root).append(h("div", { class: "pz-status", text: "Loading…" }));
  let detail;
  try {
    detail = await zooApi.entry(indexName, model.id);
  } catch (error) {
    clear(root).append(h("button", { class: "pz-button", onclick: onBack }, "← Back"),
      h("div", { class: "pz-error", text: error.message }));
    return;
  }
  const hashes = Object.entries(detail.hashes ?? {}).filter(([, v]) => v);
  const previews = [];
  for (let n = 0; n < Math.min(detail.previews, 4); n++) {
    previews.push(h("img", { class: "pz-detail-preview", alt: "", loading: "lazy",
      src: zooApi.previewUrl(indexName, detail.id, n) }));
  }
  clear(root).append(h("div", { class: "pz-detail", dataset: { id: detail.id } },
    h("div", { class: "pz-detail-head" },
      h("button", { class: "pz-button", onclick: onBack }, "← Back"),
      addButton(detail, notify)),
    h("div", { class: "pz-detail-name", text: detail.name }),
    h("div", { class: "pz-meta", text: [detail.version, detail.author ? `by ${detail.author}` : "",
      detail.base_model || detail.family, KIND_LABELS[detail.kind], detail.role].filter(Boolean).join(" · ") }),
    previews.length ? h("div", { class: "pz-detail-previews" }, previews) : null,
    detail.triggers?.length ? section("Trigger words", triggerChips(detail.triggers, notify)) : null,
    section("File", h("div", { class: "pz-mono pz-path", text: detail.file_name || "(catalog entry, no local file)" })),
    detail.recommended_weight != null ? section("Recommended weight",
      h("div", { text: String(detail.recommended_weight) })) : null,
    detail.description ? section("Description", h("div", { class: "pz-description", text: detail.description })) : null,
    detail.example_prompts?.length ? section("Example prompts", detail.example_prompts.map((p) =>
      h("div", { class: "pz-prompt" }, h("span", { text: p }),
        h("button", { class: "pz-copy", title: "Copy prompt", onclick: async () => notify?.(
          (await copyText(p)) ? "Copied prompt" : "Copy failed") }, h("i", { class: "pi pi-copy" }))))) : null,
    detail.tags?.length ? section("Tags", h("div", { class: "pz-tags", text: detail.tags.join(", ") })) : null,
    hashes.length ? section("Hashes", hashes.map(([name, value]) =>
      h("div", { class: "pz-mono" }, h("span", { class: "pz-hash-name", text: `${name} ` }), h("span", { text: value })))) : null,
    detail.siblings?.length ? section("More by this author", h("div", { class: "pz-siblings" },
      detail.siblings.map((s) => h("button", { class: "pz-sibling", title: `${s.family} · ${KIND_LABELS[s.kind]}`,
        onclick: () => onOpen(s) }, s.name)))) : null));
}
