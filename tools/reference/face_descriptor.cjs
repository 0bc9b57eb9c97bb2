// Reference face descriptors from the original network, run by its own package.
//
// Setup (scratch folder, offline-capable once installed):
//   npm install @vladmandic/face-api@1.7.15 @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0
// Run from the repository root:
//   cargo run --release -p lrpo-devtools --bin identity_inputs -- /tmp/id
//   NODE_PATH=/path/to/node_modules node tools/reference/face_descriptor.cjs /tmp/id ../shared/assets/models/face-api
//
// It loads face-api's `dist/face-api.node-wasm.js` build on TF.js's pure-JS `cpu` backend
// (`@tensorflow/tfjs-node` downloads a native library at install and is not used) and writes
// shared/tests/fixtures/face_descriptors.json with
//   - `faces`: for every identity chip the Rust side cut (150x150 RGB bytes), the descriptor
//     `faceapi.computeFaceDescriptor` gives for exactly those pixels;
//   - `pipeline`: for every photo, what face-api's own pipeline finds end to end (tiny face
//     detector, 68-point landmarks, its dlib-style crop, descriptor), for comparison.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

(async () => {
  const [inputs, weights] = process.argv.slice(2);
  await tf.setBackend('cpu');
  await tf.ready();
  await faceapi.nets.faceRecognitionNet.loadFromDisk(weights);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(weights);
  await faceapi.nets.tinyFaceDetector.loadFromDisk(weights);
  const manifest = JSON.parse(fs.readFileSync(path.join(inputs, 'manifest.json')));
  const faces = [];
  for (const f of manifest.faces) {
    const bytes = fs.readFileSync(path.join(inputs, 'chips', f.name + '.rgb'));
    const chip = tf.tensor3d(new Int32Array(bytes), [150, 150, 3], 'int32');
    const d = await faceapi.computeFaceDescriptor(chip);
    chip.dispose();
    faces.push({ name: f.name, stem: f.stem, chip_fnv1a: f.chip_fnv1a, descriptor: Array.from(d) });
  }
  const pipeline = [];
  for (const fr of manifest.frames) {
    const bytes = fs.readFileSync(path.join(inputs, 'frames', fr.stem + '.rgb'));
    const img = tf.tensor3d(new Int32Array(bytes), [fr.height, fr.width, 3], 'int32');
    const options = new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: 0.5 });
    const found = await faceapi.detectAllFaces(img, options).withFaceLandmarks().withFaceDescriptors();
    img.dispose();
    for (const r of found) {
      const b = r.detection.box;
      pipeline.push({ stem: fr.stem, box: [b.x, b.y, b.x + b.width, b.y + b.height], score: r.detection.score, descriptor: Array.from(r.descriptor) });
    }
  }
  const out = {
    generator: 'tools/reference/face_descriptor.cjs',
    versions: { 'face-api': faceapi.version, tfjs: tf.version.tfjs, backend: tf.getBackend() },
    faces,
    pipeline,
  };
  fs.writeFileSync(path.join(__dirname, '../../shared/tests/fixtures/face_descriptors.json'), JSON.stringify(out, null, 1));
  console.error(`wrote ${faces.length} chip descriptors, ${pipeline.length} pipeline faces`);
})();
