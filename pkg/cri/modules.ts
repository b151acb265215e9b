import type { CriModule } from './module.js';
import { runtimeInfoModule } from './runtime-info.js';
import { imageModule } from './image.js';
import { berthImagesModule } from './berth-images.js';
import { sandboxModule } from './sandbox.js';
import { containerModule } from './container.js';
import { streamingModule } from './streaming.js';
import { statsModule } from './stats.js';
import { dashboardModule } from '../dashboard/module.js';

/** Modules in start order: a module may use the services of those before it. */
export const MODULES: CriModule[] = [runtimeInfoModule, imageModule, berthImagesModule, sandboxModule, containerModule, streamingModule, statsModule, dashboardModule];
