/** Rewrites `<dir>/stack.json` `count` times (`node state-writer.ts <dir> <count>`), as `stack up` does. */
import { writeStackState } from '../../../../infra/stack/stack-state.ts';

const [dir, count] = [process.argv[2]!, Number(process.argv[3] ?? 1)];
for (let index = 0; index < count; index++) {
  writeStackState(dir, { kafka: { pid: 1_000 + index, port: 19_092, controllerPort: 19_093 }, redis: { pid: 2_000 + index, port: 16_379 }, registry: { pid: 3_000 + index, port: 18_081 } });
}
