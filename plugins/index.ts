// Every plugin the gateway ships. Only the composition root (src/compose.ts) imports this file.
import type { InferFields } from '../src/config/spec.js';
import type { GatewayConfig } from '../src/config/types.js';
import type { PluginCatalogue } from '../src/pipeline/manifest.js';
import type { marketplaceConfig } from './marketplace/config.js';
import type { oracleConfig } from './oracle/config.js';
import type { providersConfig } from './providers/config.js';
import type { ratelimitConfig } from './ratelimit/config.js';
import { manifest as auth } from './auth/index.js';
import { manifest as change } from './change/index.js';
import { manifest as marketplace } from './marketplace/index.js';
import { manifest as metering } from './metering/index.js';
import { manifest as metrics } from './metrics/index.js';
import { manifest as oracle } from './oracle/index.js';
import { manifest as payment } from './payment/index.js';
import { manifest as providers } from './providers/index.js';
import { manifest as ratelimit } from './ratelimit/index.js';

export const SHIPPED_PLUGINS: PluginCatalogue = {
  manifests: [ratelimit, auth, payment, metering, change, oracle, metrics, providers, marketplace],
  /** `plugins:` when the config leaves it out. */
  defaults: ['auth', 'payment', 'metering', 'change', 'oracle'],
};

/** A validated config with every shipped plugin's section. */
export type ShippedConfig = GatewayConfig & InferFields<typeof oracleConfig> & InferFields<typeof providersConfig> & InferFields<typeof ratelimitConfig> & InferFields<typeof marketplaceConfig>;
