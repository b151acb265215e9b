// What an upgraded streaming connection runs on: ws, SPDY/3.1 and the Kubernetes channel
// protocols. The server imports this module on its first upgrade, so a daemon whose clients
// never exec, attach or port-forward does not load (or keep) that code.
export { createWebSocketStream, WebSocketServer, type WebSocket } from 'ws';
export { PORTFORWARD_PROTOCOLS, serveSpdyPortForward } from './portforward.js';
export { SpdySession } from './spdy/session.js';
export { REMOTECOMMAND_PROTOCOLS, serveSpdyRemoteCommand } from './spdy-remotecommand.js';
export { serveWsPortForward, WS_PORTFORWARD_PROTOCOLS, wsForwardPorts } from './ws-portforward.js';
export { serveWsRemoteCommand, WS_REMOTECOMMAND_PROTOCOLS } from './ws-remotecommand.js';
