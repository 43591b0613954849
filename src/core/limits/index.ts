export { ConnectionLimits, ConnectionLimitExceededError, type ConnectionLimitsConfig, type ConnectionLimitKind } from './connection-limits.ts'
export { MemoryLimits, MemoryLimitExceededError, MEMORY_SAMPLE_INTERVAL_MS, type MemoryLimitsConfig, type MemorySample } from './memory-limits.ts'
