export * from './types.js';
export { StatsCollector, readerFor, type StatsCollectorOptions } from './collector.js';
export { CgroupV1Reader, v1Memory } from './cgroup-v1.js';
export { CgroupV2Reader, v2Memory } from './cgroup-v2.js';
export { detectLayout, parseMountinfo, cgroupfsPath, expandSlice, cgroupDir, type CgroupLayout, type CgroupMount } from '../cgroups/index.js';
export { DiskUsageCache, diskUsage } from './disk.js';
export { NetnsStatsReader } from './network.js';
export { CpuRateTracker } from './rate.js';
export { parseNetDev, parseFlatKeyed, parseIoStat } from './parse.js';
