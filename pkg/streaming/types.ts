// The streaming server's view of the runtime: three small backends, so pkg/streaming depends on
// no other domain package. pkg/cri/streaming.ts wires them to the container and sandbox services.
import type { Duplex, Readable, Writable } from 'node:stream';

export interface TermSize {
  width: number;
  height: number;
}

/** The client's side of a session, as the protocol layer hands it to a backend. */
export interface StdioStreams {
  tty: boolean;
  /** The client's input; ends when the client closes stdin. */
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** Terminal size changes (tty only); ends with the session. */
  resize?: AsyncIterable<TermSize>;
}

export interface ExecProcess {
  /** The exit code, once the process ended and its output was written to stdout/stderr. */
  exited: Promise<number>;
  /** Kills the exec'd process (the client went away). */
  kill(): void;
}

export interface ExecBackend {
  exec(containerId: string, cmd: string[], io: StdioStreams): Promise<ExecProcess>;
}

export interface AttachSession {
  /** Resolves when the attach ends: the container's output closed, or stdin ended (stdin_once). */
  done: Promise<void>;
  /** Detaches (the client went away); never stops the container. */
  detach(): void;
}

export interface AttachBackend {
  attach(containerId: string, io: StdioStreams): Promise<AttachSession>;
}

/** Connections into one pod's network namespace for one port-forward session. */
export interface PortDialer {
  /** A TCP connection to 127.0.0.1:port inside the pod's network namespace. */
  dial(port: number): Promise<Duplex>;
  /** Ends whatever the dialer holds (a helper process); open connections stay. */
  close(): void;
}

export interface PortForwardBackend {
  /** Throws NotFoundError for an unknown sandbox. */
  open(sandboxId: string): Promise<PortDialer>;
}

export interface StreamingBackends {
  exec?: ExecBackend;
  attach?: AttachBackend;
  portForward?: PortForwardBackend;
}

export interface ExecParams {
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export type AttachParams = Omit<ExecParams, 'cmd'>;

export interface PortForwardParams {
  sandboxId: string;
  /** Ports the client may forward; empty = any port. */
  ports: number[];
}

export type StreamRequest =
  | { kind: 'exec'; params: ExecParams }
  | { kind: 'attach'; params: AttachParams }
  | { kind: 'portforward'; params: PortForwardParams };
