/**
 * One origin's capacity shared by every delivery worker of the deployment. The per-origin cap
 * (ORBIT_MAX_CONNECTIONS_PER_ORIGIN) is the deployment's, not each worker's: worker number `rank` of
 * `peers` runs at most its share of it, so a single large receiver gets every worker's throughput
 * while never seeing more than the cap at once (or one per worker, when there are more workers than
 * the cap allows). Pure.
 */
export function shareOf(cap: number, peers: number, rank: number): number {
  const workers = Math.max(1, peers);
  const base = Math.floor(cap / workers);
  return Math.max(1, base + (rank < cap % workers ? 1 : 0));
}

export interface Peer {
  id: string;
  live: boolean;
}

/** How many live workers there are and where this one ranks among them (by id); itself counted if missing. */
export function rankAmong(peers: readonly Peer[], selfId: string | null): { peers: number; rank: number } {
  const live = peers.filter((peer) => peer.live).map((peer) => peer.id);
  if (selfId !== null && !live.includes(selfId)) live.push(selfId);
  live.sort();
  const rank = selfId === null ? 0 : live.indexOf(selfId);
  return { peers: Math.max(1, live.length), rank: Math.max(0, rank) };
}
