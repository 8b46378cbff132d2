/** aedes-persistence-level ships no types: a factory from an open `level`-style database to an aedes persistence. */
declare module "aedes-persistence-level" {
  const levelPersistence: (db: object) => object
  export default levelPersistence
}
