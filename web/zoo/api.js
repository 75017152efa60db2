// Calls to the pack's /polaris/... routes (nodes/routes.py) through ComfyUI's api client.
import { api } from "../../../scripts/api.js";

export class ZooError extends Error {}

async function call(path, options = {}) {
  const response = await api.fetchApi(path, options);
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (!response.ok) {
    throw new ZooError(body?.error || `${path} answered ${response.status}`);
  }
  return body;
}

function post(path, payload, signal) {
  return call(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
    signal,
  });
}

export const zooApi = {
  indexes: () => call("/polaris/indexes"),
  search: (payload, signal) => post("/polaris/search", payload, signal),
  entry: (index, id) => call(`/polaris/entry?index=${encodeURIComponent(index)}&id=${encodeURIComponent(id)}`),
  previewUrl: (index, id, n = 0) =>
    api.apiURL(`/polaris/preview?index=${encodeURIComponent(index)}&id=${encodeURIComponent(id)}&n=${n}`),
  plan: (payload) => post("/polaris/plan", payload),
  build: (payload) => post("/polaris/index/build", payload),
  cancel: () => post("/polaris/index/cancel", {}),
  buildStatus: () => call("/polaris/index/status"),
  onProgress: (handler) => api.addEventListener("polaris.index.progress", (event) => handler(event.detail)),
};
