// Registers every plugin the gateway ships. `plugins:` in the config picks which run.
import { registerPlugin } from '../src/pipeline/registry.js';

export const SHIPPED_PLUGINS = [] as const;
void registerPlugin;
