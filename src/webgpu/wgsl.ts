/**
 * webgpu/wgsl.ts: how a kernel is written and turned into a WGSL module. A kernel is a spec: its
 * tensors (in call order, with element type and whether it writes them), its scalar parameters,
 * a workgroup size and a body (plus an optional prelude). The code names tensors as plain arrays indexed from the tensor's
 * first element (`out[i] = a[i] + b[i]`) and parameters as `P.name`; `gid` is the invocation's
 * linear index over a 2-D grid of workgroups and `grp` the workgroup's linear index.
 *
 * A tensor is a (buffer, element offset) view, and several tensors of one call may share a
 * buffer (views of one block, or in-place calls such as add(out = a)). WebGPU rejects a dispatch
 * whose writable binding overlaps another binding of the same buffer, so each distinct buffer is
 * bound once: `slots` maps every tensor to its binding, and `X[` is rewritten to
 * `bindN[P.o_X + ` (so index expressions must not use operators weaker than `+`, such as shifts).
 * A slot is read_write only when a tensor written through it lives there. Device-free.
 */

export type Scalar = 'f32' | 'i32' | 'u32';

export interface TensorSpec {
  name: string;
  type: Scalar;
  write?: boolean;
}

export interface KernelSpec {
  /** the contract's kernel name (pipelines are cached under it plus the specialization) */
  name: string;
  tensors: TensorSpec[];
  /** scalar parameters, in uniform order */
  params: [string, Scalar][];
  /** invocations per workgroup (1-D); gemm passes its own layout through `workgroup` */
  wg: number;
  workgroup?: string;
  /** module-scope WGSL (helpers, workgroup arrays, constants) */
  prelude?: string;
  body: string;
  /** binds the device's status buffer (deferred index errors) as `status` */
  status?: boolean;
}

/** Uniform slot size: every dispatch's parameters fit in one 256-byte slot (64 scalars). */
export const UNIFORM_SLOT = 256;

/** The uniform layout of a spec: tensor offsets first (o_<name>), then the parameters. */
export function uniformFields(spec: KernelSpec): [string, Scalar][] {
  const fields: [string, Scalar][] = [
    ...spec.tensors.map(t => [`o_${t.name}`, 'u32'] as [string, Scalar]),
    ...spec.params,
  ];
  if (fields.length * 4 > UNIFORM_SLOT)
    throw new Error(`${spec.name}: ${fields.length} uniform fields do not fit a ${UNIFORM_SLOT}-byte slot`);
  return fields;
}

/** Per slot: its element type and whether it is written. */
export function slotAccess(spec: KernelSpec, slots: number[]): { type: Scalar; write: boolean }[] {
  const n = Math.max(-1, ...slots) + 1;
  const out: { type: Scalar; write: boolean }[] = [];
  for (let s = 0; s < n; s++) {
    const ts = spec.tensors.filter((_, i) => slots[i] === s);
    out.push({ type: ts[0].type, write: ts.some(t => t.write) });
  }
  return out;
}

/** The WGSL module of a spec with tensors bound to `slots` (binding 0: uniforms; 1: status). */
export function generate(spec: KernelSpec, slots: number[]): string {
  const fields = uniformFields(spec);
  const access = slotAccess(spec, slots);
  const first = spec.status ? 2 : 1;
  const lines: string[] = [];
  lines.push(`struct Params { ${fields.map(([n, t]) => `${n}: ${t}`).join(', ')} }`);
  lines.push('@group(0) @binding(0) var<uniform> P: Params;');
  if (spec.status) lines.push('@group(0) @binding(1) var<storage, read_write> status: array<atomic<u32>, 8>;');
  access.forEach((a, s) => {
    lines.push(
      `@group(0) @binding(${first + s}) var<storage, ${a.write ? 'read_write' : 'read'}> bind${s}: array<${a.type}>;`,
    );
  });
  const bind = (code: string) =>
    spec.tensors.reduce(
      (c, t, i) => c.replace(new RegExp(`\\b${t.name}\\[`, 'g'), `bind${slots[i]}[P.o_${t.name} + `),
      code,
    );
  const body = bind(spec.body);
  if (spec.status) {
    // Record the first index error of a batch: [count, kernel, position, value, bound].
    lines.push(`fn report(kernel: u32, pos: u32, value: i32, bound: u32) {
  if (atomicAdd(&status[0], 1u) == 0u) {
    atomicStore(&status[1], kernel); atomicStore(&status[2], pos);
    atomicStore(&status[3], bitcast<u32>(value)); atomicStore(&status[4], bound);
  }
}`);
  }
  if (spec.prelude) lines.push(bind(spec.prelude));
  lines.push(`@compute @workgroup_size(${spec.workgroup ?? spec.wg})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let grp = wid.y * nwg.x + wid.x;
  let gid = grp * ${spec.wg}u + lid.x;
${body}
}`);
  return lines.join('\n');
}

/** A 1-D count of workgroups as a 2-D grid (each dimension is limited to 65535). */
export function grid(groups: number): [number, number, number] {
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1];
}
