export { Cgroups, type CgroupsInfo, type DetectOptions } from './cgroups.js';
export { availableControllers, detectLayout, layoutName, parseMountinfo, V1_CONTROLLERS, type CgroupLayout, type CgroupMount, type V1Controller } from './layout.js';
export { cgroupDir, cgroupfsPath, checkParent, containerCgroupsPath, CRUN_SUBGROUP_ANNOTATION, expandSlice, isSystemdPath, podCgroupPath, runtimeCgroupAnnotations, SCOPE_PREFIX, type CgroupDriver } from './paths.js';
export { defaultParent, resolveDriver, systemdBooted, type ConfiguredDriver } from './driver.js';
export { applyResources, cpuMax, oomKillCount, sharesToWeight, swapMax, v1Writes, v2Writes, type CgroupResources, type CgroupWrite } from './resources.js';
export { CONMON_CGROUP, CONMON_SLICE, conmonLaunch } from './conmon.js';
export { cgroupMounts, removeCgroup } from './remove.js';
export { OomKillWatch, watchOomKills } from './oom-watch.js';
