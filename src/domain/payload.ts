import type { EventType, RunState } from './run.ts';

const SUCCESS: Record<EventType, boolean> = {
  'run.started': true,
  'run.completed': true,
  'node.completed': true,
  'run.failed': false,
  'node.failed': false,
  'run.canceled': false,
};

export interface PayloadInput {
  type: EventType;
  runId: string;
  workflowId: string;
  /** The run after the event. */
  run: Pick<RunState, 'status' | 'completedNodes' | 'failedNodes'>;
  /** The reporter's `data` (used for node events). */
  data: Record<string, unknown> | undefined;
  error: string | undefined;
  metadata: Record<string, unknown> | null;
  createdAt: Date;
}

/**
 * The exact body text a receiver gets (README, "What a receiver gets"), with its keys in this order. It is built once,
 * when the event is accepted, and stored: every attempt sends these same bytes.
 */
export function buildPayload(input: PayloadInput): string {
  const counts = { completedNodes: input.run.completedNodes, failedNodes: input.run.failedNodes };
  const data = input.type.startsWith('node.')
    ? { ...input.data, status: input.type === 'node.completed' ? 'COMPLETED' : 'FAILED', ...counts }
    : { status: input.run.status, ...counts };
  return JSON.stringify({
    success: SUCCESS[input.type],
    type: input.type,
    runId: input.runId,
    workflowId: input.workflowId,
    data,
    metadata: input.metadata,
    error: input.error ?? null,
    createdAt: input.createdAt.toISOString(),
  });
}
