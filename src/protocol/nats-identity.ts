/**
 * An agent's own NATS identity on a server AM configures (the embedded one, or one generated from the
 * agents projection): the user is named after the agent, and its inbox prefix after the user, so the
 * server can let each agent read its own replies and nobody else's.
 */
export function natsUserOf(agentId: string): string {
  return `am-agent-${agentId}`;
}

/** The inbox prefix (`inboxPrefix` in nats.js) a NATS user's connection must use. */
export function inboxPrefixOf(natsUser: string): string {
  return `_INBOX.${natsUser}`;
}

/** The inbox prefix of the AM processes' connections: stream deliveries and replies only they may read. */
export const SERVICE_INBOX_PREFIX = '_INBOX.am-service';

/**
 * Whether a request's reply subject is one the command service may answer: an inbox, and not one of its
 * own. A requester names the reply subject freely, and the service may publish to the event stream, so
 * answering `am.evt.…` would append the reply to a graph's trail.
 */
export function isReplyInbox(subject: string): boolean {
  return subject.startsWith('_INBOX.') && !subject.startsWith(`${SERVICE_INBOX_PREFIX}.`);
}
