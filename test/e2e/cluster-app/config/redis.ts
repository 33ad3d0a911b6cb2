import { defineConfig } from '../../../../framework/index.js'

/** REDIS_URL for a single node; SD_TEST_REDIS_CLUSTER ('host:port,…') for the Redis Cluster test. */
export default defineConfig({
  cluster: process.env.SD_TEST_REDIS_CLUSTER ? process.env.SD_TEST_REDIS_CLUSTER.split(',') : [],
})
