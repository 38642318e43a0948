export { type AppDeps, BODY_LIMIT, buildApp } from './app.ts'
export { type Config, ConfigError, DEFAULT_DATA_DIR, type LogLevel, loadConfig } from './config.ts'
export type { NotesRepository } from './repositories/notes.ts'
