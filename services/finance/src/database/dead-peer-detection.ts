/**
 * Startup options for every PostgreSQL session the service opens (the pool's; the projection leader's
 * and a rollback's copy the pool's configuration): server-side TCP keepalives and a user timeout.
 *
 * Cluster-wide locks live in sessions: the projection leader's advisory lock, a rollback's, and the row
 * locks of a batch in flight. When a pod's node dies or is cut off, nothing closes its connections, and
 * PostgreSQL would keep those sessions, with their locks, until Linux's default keepalive gives up
 * (2 h 11 min): no pod could lead the projection or recover the rollback meanwhile. With these, the
 * server drops such a session about 11 s after its last packet (5 s idle, then 3 probes 2 s apart, or
 * 11 s of unacknowledged data), and another pod takes over. PostgreSQL ignores them on Unix sockets.
 */
export const DEAD_PEER_DETECTION = {
  tcp_keepalives_idle: 5,
  tcp_keepalives_interval: 2,
  tcp_keepalives_count: 3,
  tcp_user_timeout: 11_000,
} as const;

/** The startup `options` string (`-c name=value ...`) carrying DEAD_PEER_DETECTION. */
export function deadPeerDetectionOptions(): string {
  return Object.entries(DEAD_PEER_DETECTION)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ');
}
