"""Polaris's custom ComfyUI types, declared once. Values are polaris_core objects passed between nodes."""
from comfy_api.v0_0_2 import io

Intent = io.Custom("POLARIS_INTENT")          # polaris_core.intent.Intent
MaskResult = io.Custom("POLARIS_MASKS")       # polaris_core.mask.MaskResult (ranked candidates)
ZooIndex = io.Custom("POLARIS_INDEX")         # polaris_core.index.ZooIndex
Candidates = io.Custom("POLARIS_CANDIDATES")  # polaris_core.candidates.Candidates
Plan = io.Custom("POLARIS_PLAN")              # polaris_core.plan.Plan
ClipModel = io.Custom("POLARIS_CLIP")         # polaris_core.clip_model.LoadedClip (open_clip)
SamModel = io.Custom("POLARIS_SAM")           # segment_anything Sam
LanguageModel = io.Custom("POLARIS_LLM")      # polaris_core.llm.LoadedLLM
