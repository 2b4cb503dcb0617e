#!/usr/bin/env bash
# The user's install: `npm pack`, then `npm install <tarball>` into an empty folder with no internet
# beyond the npm registry, then `npx hybridvision --version` and a predict on a shipped sample.
# onnxruntime-node's install script fetches CUDA files from outside the registry on Linux x64; here
# its proxy (global-agent) points at a closed local port, so that fetch fails as it does offline:
# the install must still succeed, and the CLI must still classify.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/hv-pack-XXXXXX")
trap 'rm -rf "$work"' EXIT
npm pack --silent --pack-destination "$work" >/dev/null
tgz=$(ls "$work"/hybridvision-*.tgz)
mkdir "$work/project" && cd "$work/project"
npm init -y >/dev/null
export GLOBAL_AGENT_HTTPS_PROXY=http://127.0.0.1:9 GLOBAL_AGENT_HTTP_PROXY=http://127.0.0.1:9
npm install --prefer-offline --no-audit --no-fund "$tgz" 2>"$work/install.err" >"$work/install.out" || { cat "$work/install.out" "$work/install.err"; echo "pack check: npm install of the tarball failed"; exit 1; }
if grep -i "warn" "$work/install.err" | grep -v "install-scripts" | grep -q .; then
  cat "$work/install.err"; echo "pack check: npm warned during the install"; exit 1
fi
version=$(npx --no-install hybridvision --version)
[ "$version" = "$(node -p "require('$tgz'.replace(/.*/, '$PWD/node_modules/hybridvision/package.json')).version")" ] || { echo "pack check: --version printed '$version'"; exit 1; }
sample=$(ls node_modules/hybridvision/assets/samples/* | head -1)
out=$(npx --no-install hybridvision predict "$sample" --top 1 2>"$work/predict.err") || { cat "$work/predict.err"; echo "pack check: predict failed"; exit 1; }
out_predict=$out
echo "$out"
echo "$out" | grep -Eq '^ +[0-9.]+%  [A-Za-z]' || { echo "pack check: no prediction printed"; exit 1; }
out=$(npx --no-install hybridvision 2>/dev/null | head -3)
echo "$out" | grep -q "shipped default" || { echo "pack check: the default command did not classify"; exit 1; }
# The README's way to the native engine without internet beyond the registry.
ONNXRUNTIME_NODE_INSTALL=skip npm install --prefer-offline --no-audit --no-fund onnxruntime-node >/dev/null 2>"$work/ort.err" || { cat "$work/ort.err"; echo "pack check: installing onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=skip failed"; exit 1; }
native=$(npx --no-install hybridvision predict "$sample" --top 1 2>"$work/native.err") || { cat "$work/native.err"; echo "pack check: predict on onnxruntime-node failed"; exit 1; }
[ ! -s "$work/native.err" ] || { cat "$work/native.err"; echo "pack check: predict on onnxruntime-node printed to stderr"; exit 1; }
[ "$native" = "$out_predict" ] || { echo "$native"; echo "pack check: onnxruntime-node and the wasm engine disagree"; exit 1; }
echo "pack check: installed $(basename "$tgz") offline-from-internet; --version $version; predict ok on $(if [ -s "$work/predict.err" ]; then echo "the wasm engine (onnxruntime-node dropped)"; else echo onnxruntime-node; fi), then on onnxruntime-node after ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node"
