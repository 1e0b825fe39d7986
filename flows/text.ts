// Desired flows as `ovs-ofctl -O OpenFlow13 dump-flows` prints them (minus
// durations and counters), one line per flow, in a fixed order so two
// renderings of the same flows are equal byte for byte.
import { formatFlow, type FlowLike } from '../protocols/openflow/index.js';

/**
 * Table ascending, then priority descending (the order a packet meets
 * them), then the line itself, so flows the two keys tie on still come out
 * in one order.
 */
export function sortFlowLines(flows: readonly FlowLike[]): string[] {
  return flows
    .map((f) => ({ f, line: formatFlow(f) }))
    .sort((a, b) => a.f.tableId - b.f.tableId || b.f.priority - a.f.priority || (a.line < b.line ? -1 : a.line > b.line ? 1 : 0))
    .map(({ line }) => line);
}

/** The flows as text, one per line, each line ending in a newline. */
export function renderFlows(flows: readonly FlowLike[]): string {
  return sortFlowLines(flows)
    .map((l) => `${l}\n`)
    .join('');
}
