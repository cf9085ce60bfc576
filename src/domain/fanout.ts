/** Which endpoints a message goes to. Pure. */

export interface EndpointFilter {
  disabled: boolean;
  /** Event types the endpoint receives; null (or empty) for all. */
  filterTypes: readonly string[] | null;
  /** Channels the endpoint listens to; null (or empty) for all messages, with channels or without. */
  channels: readonly string[] | null;
}

export interface MessageRouting {
  eventType: string;
  channels: readonly string[] | null;
}

/**
 * Whether an endpoint receives a message when it is created: it is enabled, its event-type filter
 * (if any) holds the message's type, and its channels (if any) overlap the message's.
 */
export function receives(endpoint: EndpointFilter, message: MessageRouting): boolean {
  if (endpoint.disabled) return false;
  if (endpoint.filterTypes !== null && endpoint.filterTypes.length > 0 && !endpoint.filterTypes.includes(message.eventType)) {
    return false;
  }
  if (endpoint.channels !== null && endpoint.channels.length > 0) {
    const wanted = endpoint.channels;
    return message.channels !== null && message.channels.some((channel) => wanted.includes(channel));
  }
  return true;
}
