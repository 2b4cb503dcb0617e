/** The repository root (the folder holding package.json), for tools run from dist/tools: the package root the CLI finds its assets by. */
export { PACKAGE_ROOT as REPO_ROOT } from '../src/cli/assets.js';
