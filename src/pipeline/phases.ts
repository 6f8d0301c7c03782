// The closed list of phases a plugin may implement. A plugin exposing any other phase-like
// member fails at load, as Fastify rejects unknown hook names.
export const PHASES = ['onRequest', 'transformRequest', 'onStreamEvent', 'beforeSettle', 'onSettle'] as const;
export type Phase = (typeof PHASES)[number];

/** Members a plugin object may have besides its phases. */
export const PLUGIN_MEMBERS = ['name', 'priority', 'routes', 'upgrades', 'close', 'settlesWithoutStore'] as const;
