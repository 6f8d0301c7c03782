// Registers every plugin the gateway ships. `plugins:` in the config picks which run.
import { registerPlugin } from '../src/pipeline/registry.js';

registerPlugin('auth', async () => (await import('./auth/index.js')).create);
registerPlugin('payment', async () => (await import('./payment/index.js')).create);
registerPlugin('metering', async () => (await import('./metering/index.js')).create);
registerPlugin('change', async () => (await import('./change/index.js')).create);
registerPlugin('oracle', async () => (await import('./oracle/index.js')).create);
registerPlugin('metrics', async () => (await import('./metrics/index.js')).create);
registerPlugin('providers', async () => (await import('./providers/index.js')).create);
registerPlugin('marketplace', async () => (await import('./marketplace/index.js')).create, { enabledBy: (config) => config.marketplace.enabled });
