import { sentinelFailover } from './sentinel-suite';

sentinelFailover('ioredis');
