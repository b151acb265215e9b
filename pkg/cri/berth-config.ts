// berth.v1.Config: `berth config reload` over the socket. A thin handler over the daemon's
// reload (pkg/config/reload.ts), which SIGHUP runs too.
import { ConfigError } from '../config/config.js';
import type { ReloadOutcome } from '../config/reload.js';
import { FailedPreconditionError } from '../errors/errors.js';
import type { ReloadConfigResponse } from './gen/berth/v1/ReloadConfigResponse.js';
import type { ExtraService } from './module.js';
import { berthServices } from './proto.js';

export function configService(reload: () => Promise<ReloadOutcome>): ExtraService {
  const Reload = async (): Promise<ReloadConfigResponse> => {
    try {
      const r = await reload();
      return { changed: r.changed, restart_required: r.restartRequired };
    } catch (err) {
      // The file is what is wrong, not the call: the running config stays in force.
      if (err instanceof ConfigError) throw new FailedPreconditionError(`config not reloaded: ${err.message}`);
      throw err;
    }
  };
  return { name: 'berth.v1.Config', definition: berthServices().Config, handlers: { Reload } };
}
