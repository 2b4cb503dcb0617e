/** Where the built site keeps onnxruntime-web's runtime files (copied there by vite.config.ts). */
export const WASM_PATHS_URL = (): string => new URL('ort/', document.baseURI).href;
