export { createDelivery, type Delivery, type DeliveryDeps, type DeliverInput, type DeliveryResult, type RecipientResult } from './deliver.js';
export { pruneSendLog, pruneSignInHistory } from './sendlog.js';
export { editHeaders, prependHeaders, removeHeaders, replaceSubject, stripRawHeaders, findHeaderFields } from './headers.js';
export { dkimDnsRecord, dkimSettingKey, generateDkimKey, loadDkimKey, type DkimKey } from './dkim-keys.js';
