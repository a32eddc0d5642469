"""Language: words and their readings (`words`), what a question asks (`questions`), names and entities
(`entities`), direct speech and pointing back (`speech`). Russian first; English and Kazakh questions too."""
