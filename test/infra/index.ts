/** Everything integration tests need to run components for real (or, where impossible, stand-ins). */
export * from './servers/common.js';
export * from './servers/postgresql.js';
export * from './servers/postgresql-repmgr.js';
export * from './servers/rabbitmq.js';
export * from './servers/etcd.js';
export * from './servers/zookeeper.js';
export * from './servers/prometheus.js';
export * from './servers/alertmanager.js';
export * from './servers/haproxy.js';
export * from './standins/elasticsearch.js';
export * from './standins/kibana.js';
export * from './standins/grafana.js';
export * from './standins/kafka.js';
export * from './standins/kubernetes.js';
