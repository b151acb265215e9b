// The agent's calls to the Kubernetes API, through @kubernetes/client-node: its node (read,
// patch), berth's RuntimeClasses, and Events on the node.
import { randomBytes } from 'node:crypto';
import { ApiException, CoreV1Api, KubeConfig, NodeV1Api, PatchStrategy, setHeaderOptions, type V1Node, type V1RuntimeClass } from '@kubernetes/client-node';
import type { Logger } from '../log/log.js';
import { READY_LABEL } from './nodeinfo.js';

export const COMPONENT = 'berth-agent';

/** `--kubeconfig FILE`, else the pod's service account (in-cluster config). */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromCluster();
  return kc;
}

export function apiStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** The message of an API error: the Status message the server sent, else the error's own. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = typeof err.body === 'string' ? (JSON.parse(err.body || '{}') as { message?: string }) : (err.body as { message?: string } | undefined);
    return `HTTP ${err.code}: ${body?.message ?? err.message}`;
  }
  return (err as Error).message;
}

/** RuntimeClass `berth-HANDLER` for a berth runtime handler, scheduled onto nodes where berth is ready. */
export function runtimeClassFor(handler: string): V1RuntimeClass {
  return {
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name: `berth-${handler}`, labels: { 'app.kubernetes.io/managed-by': COMPONENT } },
    handler,
    scheduling: { nodeSelector: { [READY_LABEL]: 'ready' } },
  };
}

export class Kube {
  readonly core: CoreV1Api;
  readonly nodeApi: NodeV1Api;

  constructor(
    readonly kc: KubeConfig,
    readonly nodeName: string,
    private readonly log: Logger,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.nodeApi = kc.makeApiClient(NodeV1Api);
  }

  readNode(): Promise<V1Node> {
    return this.core.readNode({ name: this.nodeName });
  }

  /** A strategic merge patch of the node (only the keys the patch names change). */
  patchNode(patch: object): Promise<V1Node> {
    return this.core.patchNode({ name: this.nodeName, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
  }

  /**
   * Creates or updates berth's RuntimeClasses; returns what it did (`created berth-runc`, …).
   * A RuntimeClass's handler cannot change, so one with another handler is replaced.
   */
  async ensureRuntimeClasses(handlers: string[]): Promise<string[]> {
    const done: string[] = [];
    for (const h of handlers) {
      const want = runtimeClassFor(h);
      const name = want.metadata!.name!;
      const have = await this.nodeApi.readRuntimeClass({ name }).catch((err: unknown) => {
        if (apiStatus(err) === 404) return undefined;
        throw err;
      });
      if (!have) {
        await this.nodeApi.createRuntimeClass({ body: want }).catch((err: unknown) => {
          if (apiStatus(err) !== 409) throw err; // another node's agent made it first
        });
        done.push(`created ${name}`);
      } else if (have.handler !== h) {
        await this.nodeApi.deleteRuntimeClass({ name });
        await this.nodeApi.createRuntimeClass({ body: want });
        done.push(`replaced ${name}`);
      } else if (JSON.stringify(have.scheduling) !== JSON.stringify(want.scheduling) || have.metadata?.labels?.['app.kubernetes.io/managed-by'] !== COMPONENT) {
        const body: V1RuntimeClass = { ...have, scheduling: want.scheduling, metadata: { ...have.metadata, labels: { ...have.metadata?.labels, ...want.metadata!.labels } } };
        await this.nodeApi.replaceRuntimeClass({ name, body });
        done.push(`updated ${name}`);
      }
    }
    return done;
  }

  /** Posts an Event about the node (as kubelet does, in the default namespace); a failure is only logged. */
  async event(type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace: 'default',
        body: {
          metadata: { name: `${this.nodeName}.${now.getTime().toString(16)}${randomBytes(3).toString('hex')}`, namespace: 'default' },
          involvedObject: { apiVersion: 'v1', kind: 'Node', name: this.nodeName, uid: this.nodeName },
          reason,
          message: message.slice(0, 1024),
          type,
          source: { component: COMPONENT, host: this.nodeName },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
          reportingComponent: COMPONENT,
          reportingInstance: this.nodeName,
        },
      });
    } catch (err) {
      this.log.warn({ reason, err: apiMessage(err) }, 'cannot post event');
    }
  }
}
