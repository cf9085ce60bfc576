import { OrbitError } from './errors.ts';

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const EVENT_TYPES = ['run.started', 'node.completed', 'node.failed', 'run.completed', 'run.failed', 'run.canceled'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
/** Events the executor reports through `POST /runs/{id}/events`; `run.canceled` comes from the cancel route. */
export const REPORTED_EVENT_TYPES = ['run.started', 'node.completed', 'node.failed', 'run.completed', 'run.failed'] as const;

export interface RunState {
  status: RunStatus;
  completedNodes: number;
  failedNodes: number;
  error: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface ReportedEvent {
  type: EventType;
  data?: Record<string, unknown> | undefined;
  error?: string | undefined;
}

const FINISHED: ReadonlySet<RunStatus> = new Set(['COMPLETED', 'FAILED', 'CANCELED']);

/** The statuses each event is allowed from (README, "Runs and their events"). */
const ALLOWED_FROM: Record<EventType, readonly RunStatus[]> = {
  'run.started': ['QUEUED'],
  'node.completed': ['RUNNING'],
  'node.failed': ['RUNNING'],
  'run.completed': ['RUNNING'],
  'run.failed': ['QUEUED', 'RUNNING'],
  'run.canceled': ['QUEUED', 'RUNNING'],
};

export function isFinished(status: RunStatus): boolean {
  return FINISHED.has(status);
}

/**
 * The run after an event, or an OrbitError: `run_finished` on a finished run, `invalid_transition`
 * when the run's status does not allow the event. The event's shape is checked by the caller.
 */
export function applyEvent(run: RunState, event: ReportedEvent, now: Date): RunState {
  if (isFinished(run.status)) {
    throw new OrbitError('run_finished', `the run is already ${run.status}; it accepts no more events`);
  }
  if (!ALLOWED_FROM[event.type].includes(run.status)) {
    throw new OrbitError(
      'invalid_transition',
      `${event.type} is not allowed while the run is ${run.status} (allowed from ${ALLOWED_FROM[event.type].join(' or ')})`,
    );
  }
  switch (event.type) {
    case 'run.started':
      return { ...run, status: 'RUNNING', startedAt: now };
    case 'node.completed':
      return { ...run, completedNodes: run.completedNodes + 1 };
    case 'node.failed':
      return { ...run, failedNodes: run.failedNodes + 1 };
    case 'run.completed':
      return { ...run, status: 'COMPLETED', finishedAt: now };
    case 'run.failed':
      return { ...run, status: 'FAILED', error: event.error ?? null, finishedAt: now };
    case 'run.canceled':
      return { ...run, status: 'CANCELED', finishedAt: now };
  }
}
