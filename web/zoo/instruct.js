// Instruction mode: parse → retrieve → rerank (optional LLM) on the server, the plan shown, and
// "Open as workflow" loading the text-to-image or local-edit graph with the plan's models set.
import { app } from "../../../scripts/app.js";
import { h, clear } from "./dom.js";
import { zooApi } from "./api.js";
import { triggerChips } from "./cards.js";

function choiceRow(choice) {
  const weight = choice.weight != null ? ` @ ${choice.weight}` : "";
  return h("div", { class: "pz-plan-choice", dataset: { slot: choice.slot } },
    h("div", { class: "pz-plan-slot", text: choice.slot.replace("_", " ") }),
    h("div", { class: "pz-name", text: `${choice.name}${weight}` }),
    h("div", { class: "pz-meta pz-mono", text: choice.load_name || "(catalog entry, no local file)" }),
    choice.schedule ? h("div", { class: "pz-meta pz-schedule", text: `schedule ${choice.schedule}` }) : null,
    h("div", { class: "pz-why", text: choice.why }));
}

export function instructionPanel(getIndex, notify) {
  const text = h("textarea", { class: "pz-instruction", rows: "3",
    placeholder: "An instruction, e.g. make it look like a ukiyo-e print" });
  const rerank = h("input", { type: "checkbox", class: "pz-rerank" });
  const output = h("div", { class: "pz-plan" });
  const run = h("button", { class: "pz-button pz-primary pz-plan-run" }, "Plan");

  async function plan() {
    const instruction = text.value.trim();
    if (!instruction) return;
    run.disabled = true;
    clear(output).append(h("div", { class: "pz-status", text: rerank.checked ?
      "Parsing, retrieving and reranking with the LLM…" : "Parsing and retrieving…" }));
    try {
      const result = await zooApi.plan({ index: getIndex(), instruction, rerank: rerank.checked });
      renderPlan(result);
    } catch (error) {
      clear(output).append(h("div", { class: "pz-error", text: error.message }));
    } finally {
      run.disabled = false;
    }
  }

  function renderPlan(result) {
    const openButtons = ["text-to-image", "local-edit"].map((template) => {
      const workflow = result.workflows?.[template];
      return h("button", {
        class: "pz-button pz-open", dataset: { template }, disabled: !workflow,
        title: workflow ? `Load the ${template} graph with this plan's models` : result.workflow_problems?.[template],
        onclick: async () => {
          await app.loadApiJson(structuredClone(workflow), `polaris-${template}-plan`);
          notify(`Opened the ${template} workflow`);
        },
      }, `Open as ${template} workflow`);
    });
    const timings = Object.entries(result.timings ?? {}).map(([k, v]) => `${k.replace("_ms", "")} ${v} ms`).join(", ");
    clear(output).append(h("div", { class: "pz-plan-body" },
      h("div", { class: "pz-meta", text: `${result.instruction_type} · subject “${result.subject}” · ` +
        `${result.reranked ? "reranked by the LLM" : "retrieval order (LLM off)"} · ${timings}` }),
      result.checkpoint ? choiceRow(result.checkpoint) : h("div", { class: "pz-note", text: "No checkpoint chosen." }),
      ...result.loras.map(choiceRow),
      result.trigger_words.length ? h("div", { class: "pz-section" },
        h("div", { class: "pz-section-title", text: "Trigger words" }), triggerChips(result.trigger_words, notify)) : null,
      h("div", { class: "pz-section" }, h("div", { class: "pz-section-title", text: "Prompt" }),
        h("div", { class: "pz-prompt-text", text: result.prompt })),
      h("div", { class: "pz-section" }, h("div", { class: "pz-section-title", text: "Negative prompt" }),
        h("div", { class: "pz-prompt-text", text: result.negative_prompt })),
      ...[...(result.judge ? [result.judge] : []), ...result.notes, ...(result.missing_files.length ?
        [`Not local files (download them to use the plan): ${result.missing_files.join(", ")}`] : [])]
        .map((note) => h("div", { class: "pz-note", text: note })),
      h("div", { class: "pz-actions" }, openButtons)));
  }

  run.addEventListener("click", plan);
  text.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) plan(); });
  return h("div", { class: "pz-panel pz-instruct-panel" }, text,
    h("div", { class: "pz-row" }, h("label", { class: "pz-check" }, rerank, " Rerank with the LLM (slower)"), run),
    output);
}
