export { Broadcaster, type BroadcasterOptions, type EventSink, type SubscribeOptions, type Subscription } from './broadcaster.js';
