/** The one source of time: services and domain code receive a Clock, tests pass a manual one. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
