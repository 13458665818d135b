// The tutorial's app: a small express server on port 80.
const express = require('express');

const app = express();
const port = process.env.PORT || 80;

app.get('/', (req, res) => {
  res.send('Hello World from layerfs!\n');
});

app.listen(port, () => {
  console.log(`app listening on port ${port}`);
});
