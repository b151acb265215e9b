// The image service's public types: what other modules (containers) and pkg/cri see.
import type { PullActivity } from './activity.js';

/** An image present in the local store. */
export interface ImageRecord {
  /** `sha256:<hex>` of the image config blob. */
  id: string;
  /** Fully qualified `registry/repo:tag` references pointing at this image. */
  repoTags: string[];
  /** `registry/repo@sha256:<manifest digest>` references. */
  repoDigests: string[];
  /** Bytes on disk: compressed layers plus config (what `crictl images` shows). */
  size: number;
  /** The config's User ("" when unset): a uid, a username, or either with ":group". */
  user: string;
  pinned: boolean;
}

/** The `config` object of an OCI image config (Docker's container config). */
export interface OciImageConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
}

/** Credentials for a pull, from the CRI `AuthConfig`. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  /** base64 of `username:password`. */
  auth?: string;
  serverAddress?: string;
  /** A refresh token exchanged at the token endpoint (OAuth2 POST). */
  identityToken?: string;
  /** A bearer token sent to the registry as is. */
  registryToken?: string;
}

/** A layer's place in a pull: `exists` when its snapshot was there before the pull began. */
export type LayerState = 'waiting' | 'downloading' | 'extracting' | 'done' | 'exists';

export interface LayerProgress {
  /** The layer blob's digest and size (compressed, as the manifest declares). */
  digest: string;
  size: number;
  /** Bytes downloaded so far. */
  current: number;
  state: LayerState;
}

/** Called on every change of a layer's state or bytes during a pull (many times a second). */
export type PullProgressListener = (layer: LayerProgress) => void;

export interface ContainerImageView {
  image: ImageRecord;
  config: OciImageConfig;
  /** Snapshot directories of the layers, top first, ready for overlay `lowerdir=`. */
  lowerdirs: string[];
}

export interface ImageFsUsage {
  /** Mountpoint (directory) the figures describe. */
  mountpoint: string;
  usedBytes: number;
  inodesUsed: number;
}

/** The image service other modules use, published as `ctx.services.images`. */
export interface ImageService {
  /** Pulls `ref` (tag and/or digest reference), returns the stored image. */
  pull(ref: string, auth?: RegistryAuth, signal?: AbortSignal, progress?: PullProgressListener): Promise<ImageRecord>;
  /** Resolves an image reference/ID/digest to a locally present image; NotFoundError naming it if absent. */
  get(refOrId: string): Promise<ImageRecord> | ImageRecord;
  /**
   * Holds the image `refOrId` names (NotFoundError if absent) until release(): RemoveImage
   * refuses it meanwhile. CreateContainer holds it from its start until its record exists.
   */
  leaseImage(refOrId: string): { imageId: string; release(): void };
  /** What a container needs to build its rootfs and spec. */
  containerView(refOrId: string): Promise<ContainerImageView>;
  /** Containers register a check so RemoveImage refuses (FailedPrecondition) an image in use. */
  setInUseCheck(fn: (imageId: string) => boolean): void;
  /**
   * Directory under which containers keep their writable layers (`<root>/containers`):
   * a container uses `<writableLayerRoot>/<id>/upper` and `<writableLayerRoot>/<id>/work`.
   * ImageFsInfo reports this directory as the container filesystem.
   */
  writableLayerRoot(): string;
  /** Every image present (the in-memory index ListImages serves). */
  list(): ImageRecord[];
  /** Bytes and inodes of the image store, from the metadata. */
  imageFsUsage(): Promise<ImageFsUsage>;
  /** Bytes and inodes of the containers' writable layers (cached for a few seconds). */
  writableFsUsage(): Promise<ImageFsUsage>;
  /** Pulls under way and recently ended. */
  readonly pulls: PullActivity;
}
