/**
 * The one seam from a graph to an engine session: a compiled Program is a graph lowered to ONNX
 * with its named outputs, opened in the current engine. Models, training steps, the optimizer
 * alone, input gradients and benchmarks all compile through here.
 */
import type { Graph, Value } from '../graph/ir.js';
import { lowerToOnnx } from '../onnx/lower.js';
import type { HostTensor } from '../tensor.js';
import { getEngine, type Session, type SessionOptions } from './engine.js';

export interface ProgramSpec {
  graph: Graph;
  /** The graph values fetched by name. */
  outputs: { name: string; value: Value }[];
  /** 'initializer': parameters baked in from `weights`; 'input': each parameter is a graph input named by its key. */
  params: 'initializer' | 'input';
  weights?: Map<string, HostTensor>;
  metadata?: Record<string, string>;
  /** Engine intra-op threads (default 2). */
  threads?: number;
  /** Profile every engine node to files with this prefix. */
  profilePrefix?: string;
  /** The engine's memory-pattern planning (SessionOptions.memoryPattern, default true). */
  memoryPattern?: boolean;
}

export class Program {
  private constructor(
    private readonly session: Session,
    /** ONNX node count of the lowered graph. */
    readonly nodeCount: number,
    /** Serialized ONNX size in bytes. */
    readonly modelBytes: number,
  ) {}

  /** Lowers the graph and opens it in the current engine. */
  static async compile(spec: ProgramSpec): Promise<Program> {
    const m = lowerToOnnx(spec.graph, { outputs: spec.outputs, params: spec.params, weights: spec.weights, metadata: spec.metadata });
    return Program.open(m.bytes, { threads: spec.threads, profilePrefix: spec.profilePrefix, memoryPattern: spec.memoryPattern }, m.nodeCount);
  }

  /** Opens an already lowered ONNX model (e.g. HybridModel.toOnnx bytes). */
  static async open(bytes: Uint8Array, opts: Pick<SessionOptions, 'threads' | 'profilePrefix' | 'memoryPattern'> = {}, nodeCount = 0): Promise<Program> {
    const session = await getEngine().createSession(bytes, { ...opts, threads: opts.threads ?? 2 });
    return new Program(session, nodeCount, bytes.length);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs with the given feeds (only the graph's inputs are passed); returns the outputs named in `fetch` (default all). */
  run(feeds: Record<string, HostTensor>, fetch?: string[]): Promise<Record<string, HostTensor>> {
    return this.session.run(this.only(feeds), fetch);
  }

  /**
   * Runs and writes each output named in `into` into that host tensor's buffer: as pre-allocated
   * engine outputs where the engine supports them, else by copying fresh outputs. Outputs named in
   * `fetch` are returned fresh.
   */
  async runInto(feeds: Record<string, HostTensor>, into: Record<string, HostTensor>, fetch: string[] = []): Promise<Record<string, HostTensor>> {
    const f = this.only(feeds);
    if (this.session.runInto) return this.session.runInto(f, into, fetch);
    const out = await this.session.run(f, [...Object.keys(into), ...fetch]);
    const rest: Record<string, HostTensor> = {};
    for (const [k, t] of Object.entries(out)) {
      const dst = into[k];
      if (dst) (dst.data as Float32Array).set(t.data as Float32Array);
      else rest[k] = t;
    }
    return rest;
  }

  /** Stops profiling and writes the profile file (engines that profile). */
  async endProfiling(): Promise<void> {
    await this.session.endProfiling?.();
  }

  release(): Promise<void> {
    return this.session.release();
  }

  private only(feeds: Record<string, HostTensor>): Record<string, HostTensor> {
    const names = this.session.inputNames;
    if (names.length === Object.keys(feeds).length && names.every((n) => n in feeds)) return feeds;
    const f: Record<string, HostTensor> = {};
    for (const n of names) if (n in feeds) f[n] = feeds[n];
    return f;
  }
}
