import type { CriModule } from './module.js';
import { runtimeInfoModule } from './runtime-info.js';

/** Modules in start order: a module may use the services of those before it. */
export const MODULES: CriModule[] = [runtimeInfoModule];
