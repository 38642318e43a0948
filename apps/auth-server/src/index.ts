export { type AppDependencies, BODY_LIMIT, buildApp } from './app.ts'
export { type Config, ConfigError, loadConfig } from './config.ts'
export type { KeyStore } from './services/key-store.ts'
