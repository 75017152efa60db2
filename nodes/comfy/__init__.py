"""The ComfyUI seam, one module per concern. Only this package touches `comfy.*`, `folder_paths`, the
progress bar and interrupts; the node files call it and polaris_core.

- `folders`: model folders, paths and fingerprints, loader errors;
- `indexes`: zoo index names and folders, catalog files;
- `execution`: progress bar, interrupt, non-finite inputs;
- `tensors`: IMAGE/MASK tensors and numpy;
- `models`: helper models under ComfyUI's memory manager;
- `lora`: LoRA fit and application; `hooks`: LoRA schedules through comfy.hooks;
- `sampling`: checkpoint loading, prompt encoding, inpaint;
- `previews`: preview images and example inputs.
"""
