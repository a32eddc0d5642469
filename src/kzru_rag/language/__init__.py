"""Language: words and their readings (`words`), a question analysed once into a `schema.Query` and what it asks
(`questions`), names and entities (`entities`, the one natasha wrapper), direct speech and pointing back (`speech`).
Russian first; English and Kazakh questions too."""
