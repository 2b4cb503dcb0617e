/**
 * SpaceToDepth / DepthToSpace with block 2 (ONNX DCR order): [N, C, H, W] <-> [N, 4C, H/2, W/2],
 * channel (i·2 + j)·C + c holding pixel (2h + i, 2w + j) of channel c. Each is the other's gradient.
 */
import { shapeError, type Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { attr } from '../op.js';

export const SpaceToDepthOp: OpDef<Record<string, never>> = {
  name: 'space_to_depth',
  shape: ([x]) => {
    const [n, c, h, w] = x.shape;
    if (x.rank !== 4 || h % 2 || w % 2) shapeError('space_to_depth', `needs [N, C, even H, even W], got [${x.shape.join(', ')}]`);
    return [{ shape: [n, 4 * c, h / 2, w / 2], dtype: x.dtype }];
  },
  lower: (ctx, n) => ctx.emit('SpaceToDepth', [ctx.name(n.inputs[0])], [ctx.name(n.outputs[0])], { blocksize: attr.int(2) }),
  vjp: (_n, [g]) => [g && depthToSpace(g)],
};
export const DepthToSpaceOp: OpDef<Record<string, never>> = {
  name: 'depth_to_space',
  shape: ([x]) => {
    const [n, c, h, w] = x.shape;
    if (x.rank !== 4 || c % 4) shapeError('depth_to_space', `needs [N, 4C, H, W], got [${x.shape.join(', ')}]`);
    return [{ shape: [n, c / 4, 2 * h, 2 * w], dtype: x.dtype }];
  },
  lower: (ctx, n) => ctx.emit('DepthToSpace', [ctx.name(n.inputs[0])], [ctx.name(n.outputs[0])], { blocksize: attr.int(2), mode: attr.string('DCR') }),
  vjp: (_n, [g]) => [g && spaceToDepth(g)],
};
export const spaceToDepth = (x: Value): Value => x.graph.apply1(SpaceToDepthOp, [x], {});
export const depthToSpace = (x: Value): Value => x.graph.apply1(DepthToSpaceOp, [x], {});
