import { clusterFailover } from './cluster-suite';

clusterFailover('ioredis');
