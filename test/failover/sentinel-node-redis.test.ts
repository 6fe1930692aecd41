import { sentinelFailover } from './sentinel-suite';

sentinelFailover('node-redis');
